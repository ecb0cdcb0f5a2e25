export * from './dtype';
export * from './read';
export * from './write';
export * from './checkpoint';

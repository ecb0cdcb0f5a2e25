/** The inputs the distillation tests give a teacher (the default model answers each in a few tokens). */
export const DISTILL_QUESTIONS: readonly string[] = [
  'What is 2 plus 3?',
  'Name the capital of France.',
  'What is the plural of cat?',
  'What does a dog say?',
  'What colour is the sky?',
  'Big is the opposite of what?',
];

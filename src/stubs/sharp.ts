/**
 * Stand-in for `sharp`, which transformers.js imports for image inputs. Tuneloop handles text only,
 * so the native image library stays out of the bundle and the packages; anything that reaches it
 * is a bug worth a clear message.
 */
function sharp(): never {
  throw new Error('Tuneloop does not process images (sharp is not bundled)');
}
export default sharp;

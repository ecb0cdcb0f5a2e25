import { TuneloopError } from '../errors';

/** A model repository on the Hugging Face Hub and the revision (branch, tag or commit) wanted. */
export interface HubId {
  /** `org/name`. */
  repo: string;
  /** A branch, a tag or a commit sha; `main` unless the id said otherwise. */
  revision: string;
}

export const DEFAULT_REVISION = 'main';

const HUB_ID_SHAPE = 'a Hub id looks like org/name or org/name@revision (e.g. HuggingFaceTB/SmolLM2-135M-Instruct@main)';

/**
 * One part of a repo id: the Hub's own rule (letters, digits, `_`, `-`, `.`, starting and ending
 * with a letter, digit or `_`, at most 96 characters). `--` and `..` are refused as the Hub refuses
 * them: `--` separates org and name in the cache folder name, `..` would climb out of a folder.
 */
const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

function isRepoPart(s: string): boolean {
  return PART.test(s) && !s.includes('--') && !s.includes('..');
}

/**
 * Revisions may hold slashes (`refs/pr/1`) and become a file under `refs/` in the cache, so each
 * segment must be a plain name: no empty segment, no `.` or `..`, no whitespace or control
 * characters, no backslash (a separator on Windows).
 */
export function isSafeRevision(s: string): boolean {
  if (s.length === 0 || s.length > 255 || /[\s\\\x00-\x1f\x7f:~^?*[]/.test(s)) return false;
  return s.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Whether `s` is a repo id (`org/name`, no revision). */
export function isRepoId(s: string): boolean {
  const parts = s.split('/');
  return parts.length === 2 && parts.every(isRepoPart);
}

/** Parse `org/name` or `org/name@revision`; anything else (paths included) is a TuneloopError. */
export function parseHubId(s: string): HubId {
  const at = s.indexOf('@');
  const repo = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? DEFAULT_REVISION : s.slice(at + 1);
  if (!isRepoId(repo)) {
    throw new TuneloopError(`"${s}" is not a Hugging Face Hub model id`, {}, HUB_ID_SHAPE);
  }
  if (!isSafeRevision(revision)) {
    throw new TuneloopError(`"${s}" has an invalid revision "${revision}"`, {}, `${HUB_ID_SHAPE}; the revision is a branch, tag or commit sha`);
  }
  return { repo, revision };
}

/**
 * Whether `s` has the shape of a Hub id. A relative folder such as `models/tiny` has that shape
 * too, so callers check for a local folder first and only then treat `s` as a Hub id.
 */
export function looksLikeHubId(s: string): boolean {
  try {
    parseHubId(s);
    return true;
  } catch {
    return false;
  }
}

import * as fs from 'node:fs';
import { memAvailable } from '../src/core/infer/memory';

/**
 * The memory of another process, measured from outside it (Linux /proc): its resident set (VmRSS)
 * sampled every `intervalMs`, the kernel's own high-water mark (VmHWM), and the system's
 * MemAvailable at each sample; and, to tell whether its speed can be trusted, the CPU time it used
 * against what the rest of the machine used meanwhile. bench/scale.ts measures the detached trainer
 * with it; the trainer cannot measure itself without changing what it measures.
 */

/** VmRSS and VmHWM of a process in bytes, or undefined once it has exited (or is a zombie, whose memory is gone). */
export function readProcStatus(pid: number): { rss: number; hwm: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
  if (!rss || !hwm) return undefined;
  return { rss: Number(rss[1]) * 1024, hwm: Number(hwm[1]) * 1024 };
}

/** CPU time of a process (user + system, all its threads), in clock ticks (USER_HZ), from /proc/PID/stat. */
export function readProcCpuTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": the command may hold spaces and parentheses; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** The whole machine's CPU time in clock ticks, busy and in all, from /proc/stat. */
export function readSystemTicks(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    return { busy, total: busy + idle! + iowait! };
  } catch {
    return undefined;
  }
}

export interface MemoryReport {
  readonly pid: number;
  /** Samples of the process taken (reads that found it alive). */
  readonly samples: number;
  /** VmRSS at the first sample, bytes. */
  readonly firstRss: number;
  /** The largest VmRSS sampled, bytes. */
  readonly peakRss: number;
  /**
   * VmHWM at the last sample that found the process alive: the kernel's exact peak of its resident
   * set up to then. A process that has exited has no VmHWM to read, so a peak in its last
   * `intervalMs` (while it tears down) would be missed; the sampled peak has the same blind spot.
   */
  readonly hwm: number;
  /** The smallest MemAvailable seen while sampling, bytes. */
  readonly minAvailable: number | undefined;
  /** The longest time between two samples of the process, ms (the requirement is ≤ 100). */
  readonly maxGapMs: number;
  /** Gaps between samples longer than 100 ms (this process not scheduled in time on a busy machine). */
  readonly gapsOver100Ms: number;
  /** Whether the process was seen to end. */
  readonly ended: boolean;
  /** The process's CPU time up to its last sample, seconds. */
  readonly cpuSeconds: number | undefined;
  /**
   * The share of the machine's CPU time (all cores) that other processes used while it was sampled,
   * 0 to 1: speed figures taken beside a busy neighbour measure the neighbour too.
   */
  readonly othersCpuShare: number | undefined;
}

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * Samples a process every `intervalMs` from a timer in this process (which must keep its event loop
 * free: it only waits while the measured process works). `retarget` starts again on another pid.
 */
export class MemorySampler {
  private timer: NodeJS.Timeout | undefined;
  private pidNow: number;
  private samples = 0;
  private firstRss = 0;
  private peakRss = 0;
  private hwm = 0;
  private minAvailable: number | undefined;
  private last = 0;
  private maxGapMs = 0;
  private gapsOver100Ms = 0;
  private ended = false;
  private cpuTicks: number | undefined;
  /** The process's CPU time at the first sample: what it used before sampling began is not counted against the others. */
  private cpuTicksAtStart: number | undefined;
  private systemStart: { busy: number; total: number } | undefined;
  private systemEnd: { busy: number; total: number } | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(
    pid: number,
    readonly intervalMs = 50,
  ) {
    this.pidNow = pid;
    this.systemStart = readSystemTicks();
    this.tick();
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  get pid(): number {
    return this.pidNow;
  }

  /** Measure `pid` instead, from scratch (MemAvailable's minimum is kept: it is the system's). */
  retarget(pid: number): void {
    this.pidNow = pid;
    this.samples = 0;
    this.firstRss = 0;
    this.peakRss = 0;
    this.hwm = 0;
    this.last = 0;
    this.maxGapMs = 0;
    this.gapsOver100Ms = 0;
    this.ended = false;
    this.cpuTicks = undefined;
    this.cpuTicksAtStart = undefined;
    this.systemStart = readSystemTicks();
    this.systemEnd = undefined;
    if (!this.timer) this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.tick();
  }

  private tick(): void {
    const available = memAvailable();
    if (available !== undefined) this.minAvailable = Math.min(this.minAvailable ?? available, available);
    if (this.ended) return;
    const cpu = readProcCpuTicks(this.pidNow);
    const s = readProcStatus(this.pidNow);
    const now = performance.now();
    if (!s) {
      // Gone, or a zombie whose memory is already freed: nothing more to read.
      this.ended = true;
      this.systemEnd = readSystemTicks();
      for (const w of this.waiters.splice(0)) w();
      return;
    }
    if (cpu !== undefined) {
      this.cpuTicks = cpu;
      this.cpuTicksAtStart ??= cpu;
    }
    if (this.samples === 0) this.firstRss = s.rss;
    else {
      this.maxGapMs = Math.max(this.maxGapMs, now - this.last);
      if (now - this.last > 100) this.gapsOver100Ms++;
    }
    this.last = now;
    this.samples++;
    this.peakRss = Math.max(this.peakRss, s.rss);
    this.hwm = Math.max(this.hwm, s.hwm);
  }

  /** Resolves when the process is seen gone, or after `timeoutMs` (false then). */
  whenEnded(timeoutMs: number): Promise<boolean> {
    if (this.ended) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** The figures so far, without stopping. */
  report(): MemoryReport {
    const end = this.systemEnd ?? readSystemTicks();
    const start = this.systemStart;
    const total = start && end ? end.total - start.total : 0;
    const own = this.cpuTicks !== undefined ? this.cpuTicks - (this.cpuTicksAtStart ?? 0) : undefined;
    const othersCpuShare = start && end && total > 0 && own !== undefined ? Math.max(0, end.busy - start.busy - own) / total : undefined;
    return {
      pid: this.pidNow,
      samples: this.samples,
      firstRss: this.firstRss,
      peakRss: this.peakRss,
      hwm: this.hwm,
      minAvailable: this.minAvailable,
      maxGapMs: this.maxGapMs,
      gapsOver100Ms: this.gapsOver100Ms,
      ended: this.ended,
      cpuSeconds: this.cpuTicks === undefined ? undefined : this.cpuTicks / TICKS_PER_SECOND,
      othersCpuShare,
    };
  }

  /** Stop sampling (one last sample first) and return the figures. */
  stop(): MemoryReport {
    if (this.timer) {
      this.tick();
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (!this.systemEnd) this.systemEnd = readSystemTicks();
    return this.report();
  }
}

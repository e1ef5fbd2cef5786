import type { Launched, Launcher } from '../launch.ts'
import type { NetHost } from '../netns.ts'

export type SystemName = 'dragonfly' | 'dragonfly-daemon' | 'aria2' | 'curl'

/** What a system runner gets: the hosts, the file, and a way to start processes on a host. */
export interface SystemContext {
  /** Host 0: origin, supernode, tracker, seeder. */
  source: NetHost
  peers: NetHost[]
  /** The file as the origin and the seeder hold it. */
  file: string
  fileBytes: number
  /** Its sha256, hex. */
  sha256: string
  /** This system's scratch directory (removed after it). */
  dir: string
  launcher: Launcher
  /** How long the clients may take before they are stopped and counted as failed. */
  timeoutMs: number
  /** Dragonfly: a config file for the supernode and every get (`--config`), to try settings; none by default. */
  dragonflyConfig?: string
  /** Starts `argv` inside `host`'s namespace, counted as this system's source side (host 0) or peers' CPU. */
  start(host: NetHost, argv: string[], cwd?: string): Launched
  /** Right before the first client starts, and once the last one is done: the window of the machine's busy share. */
  markStart(): void
  markEnd(): void
}

/** One peer host's download. */
export interface HostRun {
  host: number
  /** Client start to completion (exit, or the completion hook), seconds; null if it never completed. */
  seconds: number | null
  /** The file it wrote, checked against the sha256 afterwards. */
  output: string
  failure?: string
  /** Dragonfly: the get's own `durationMs` (registration to verified file), seconds. */
  innerSeconds?: number
  /** Dragonfly: where the get's bytes came from, as it reports them. */
  from?: { peers: number; supernode: number; source: number }
}

export interface SystemOutcome {
  hosts: HostRun[]
  /** Body bytes the origin sent (systems that have one). */
  originBytes?: number
}

export type SystemRunner = (ctx: SystemContext) => Promise<SystemOutcome>

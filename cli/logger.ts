import type { ConsolaInstance } from 'consola'
import { colorAllowed } from './color.ts'

// consola's full build (its fancy reporter: boxes, colours, wide-character widths) costs ~20 ms of CPU to
// load, paid by every `get` a script, a daemon or a benchmark starts. Off a terminal its basic build
// (~5 ms) does the job, as consola itself chooses under CI or a test runner. NO_COLOR gets the plain one too.
const { consola: logger } = await (colorAllowed(process.stderr) ? import('consola') : import('consola/basic'))

/** The CLI's logger: consola with the fancy reporter on a colour terminal, the basic one otherwise. */
export const consola: ConsolaInstance = logger

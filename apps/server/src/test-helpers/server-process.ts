// rg-server from the sources, for tests that need a real process (signals, exit codes): the bin needs dist/.
import { main } from '../main.js';

process.exitCode = await main(process.argv.slice(2));

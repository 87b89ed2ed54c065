// Imported by the CLI's entry right after the compile cache, before commander
// and the commands load: starts a train run's device threads when main.js is
// the program being run (not when a test or script imports it).
import * as path from 'node:path';
import { startDeviceThreadsEarly } from './early-start';

if (require.main?.filename === path.join(__dirname, 'main.js')) startDeviceThreadsEarly();

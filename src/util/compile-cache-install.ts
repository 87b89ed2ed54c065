// Imported first by every entry point (the CLI, device threads and processes):
// installs the V8 code cache before the other modules load.
import { installCompileCache } from './compile-cache';

installCompileCache();

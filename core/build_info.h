// Version and source revision of this build, for --version, the status page and
// chorus_build_info. Defined in a file generated at configure time, so a new commit recompiles
// one file rather than every file that mentions the version.
#pragma once

namespace chorus {

const char* ChorusVersion();   // "0.1.0"
const char* ChorusRevision();  // short git revision, or "unknown"

}  // namespace chorus

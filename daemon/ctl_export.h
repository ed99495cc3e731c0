// `chorusctl export`: posts or series of the store to CSV or NDJSON (design §3, §6 export).
//
// The store is opened as a RocksDB secondary instance in a private scratch directory (removed
// afterwards), so the export works while chorusd holds the store and on a stopped one alike, and
// never writes to it. Request parsing and formatting are query/export.h's, shared with
// GET /api/v1/export, so both produce the same bytes for the same filters.
#pragma once

#include <string>
#include <vector>

namespace chorus::daemon {

// `chorusctl export` with the arguments after the command name; returns the exit status
// (0 ok, 1 failure, 2 usage error or bad filter).
int RunExportCommand(const std::vector<std::string>& args);

extern const char* const kExportUsage;

}  // namespace chorus::daemon

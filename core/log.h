// Minimal structured logging to stderr: "2026-03-10T14:05:00.000Z info  source=... message".
// Thread-safe (one write per line). Never pass secrets: callers log names of env vars, not values.
#pragma once

#include <string_view>

namespace chorus {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarn(std::string_view m) { Log(LogLevel::kWarn, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }

}  // namespace chorus

//! Logging: stderr by default (simple_logger), or a log file; never stdout (the CNI result channel).

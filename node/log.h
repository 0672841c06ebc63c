/* Daemon logging: one line per event on stderr, "TIME LEVEL message", TIME in UTC with
 * milliseconds. Never pass secrets (keys, private field values) to these functions. */
#ifndef TN_NODE_LOG_H
#define TN_NODE_LOG_H

enum node_log_level { NODE_LOG_DEBUG, NODE_LOG_INFO, NODE_LOG_WARN, NODE_LOG_ERROR };

/* Lines below this level are dropped (default INFO). */
void node_log_set_level(enum node_log_level level);

__attribute__((format(printf, 2, 3))) void node_log(enum node_log_level level, const char *fmt,
                                                    ...);

#define node_info(...) node_log(NODE_LOG_INFO, __VA_ARGS__)
#define node_warn(...) node_log(NODE_LOG_WARN, __VA_ARGS__)
#define node_error(...) node_log(NODE_LOG_ERROR, __VA_ARGS__)
#define node_debug(...) node_log(NODE_LOG_DEBUG, __VA_ARGS__)

#endif

// libpq, loaded at run time (dlopen of libpq.so.5): the store builds without libpq's headers and reads
// through libpq where the library is installed (PostgresConfiguration.readsThroughLibpq). Only the calls the
// store's reader makes are here, under names of the store's own; handles are opaque.
#ifndef CLIBPQ_H
#define CLIBPQ_H

typedef struct eslpq_conn eslpq_conn;
typedef struct eslpq_result eslpq_result;

/// Loads libpq once. Returns 1 when it is loaded, 0 when it is missing (`eslpq_load_error` says why).
int eslpq_load(void);
const char *eslpq_load_error(void);

/// PQconnectdb: blocks until connected or failed (its `connect_timeout` bounds the wait).
eslpq_conn *eslpq_connect(const char *conninfo);
/// 1 when the connection is usable (PQstatus is CONNECTION_OK).
int eslpq_is_ok(const eslpq_conn *conn);
const char *eslpq_error_message(const eslpq_conn *conn);
int eslpq_socket(const eslpq_conn *conn);
void eslpq_finish(eslpq_conn *conn);

/// PQexecParams: an unnamed statement (parsed and run in one round trip, nothing left on the server, as
/// PostgresNIO's), with parameter type OIDs, text parameters (a NULL value is SQL NULL) and results in
/// `result_format` (1: binary).
eslpq_result *eslpq_exec_params(
    eslpq_conn *conn, const char *query, int count, const unsigned int *types, const char *const *values, int result_format);

/// 1 for a result that succeeded (PGRES_COMMAND_OK or PGRES_TUPLES_OK).
int eslpq_result_is_ok(const eslpq_result *result);
const char *eslpq_result_error(const eslpq_result *result);
/// The SQLSTATE of a failed result, or NULL.
const char *eslpq_result_sqlstate(const eslpq_result *result);
int eslpq_rows(const eslpq_result *result);
int eslpq_columns(const eslpq_result *result);
const char *eslpq_value(const eslpq_result *result, int row, int column);
int eslpq_length(const eslpq_result *result, int row, int column);
int eslpq_is_null(const eslpq_result *result, int row, int column);
void eslpq_clear(eslpq_result *result);

#endif

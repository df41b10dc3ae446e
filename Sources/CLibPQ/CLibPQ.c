#include "CLibPQ.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

// libpq's documented entry points, with its handles as void pointers and its enums as int.
static void *(*pq_connectdb)(const char *);
static int (*pq_status)(const void *);
static char *(*pq_error_message)(const void *);
static int (*pq_socket)(const void *);
static void (*pq_finish)(void *);
static void *(*pq_exec_params)(
    void *, const char *, int, const unsigned int *, const char *const *, const int *, const int *, int);
static int (*pq_result_status)(const void *);
static char *(*pq_result_error_message)(const void *);
static char *(*pq_result_error_field)(const void *, int);
static int (*pq_ntuples)(const void *);
static int (*pq_nfields)(const void *);
static char *(*pq_getvalue)(const void *, int, int);
static int (*pq_getlength)(const void *, int, int);
static int (*pq_getisnull)(const void *, int, int);
static void (*pq_clear)(void *);

enum { CONNECTION_OK = 0, PGRES_COMMAND_OK = 1, PGRES_TUPLES_OK = 2, PG_DIAG_SQLSTATE = 'C' };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char load_error[512];

#define RESOLVE(handle, target, symbol)                                                                    \
    do {                                                                                                   \
        *(void **)(&target) = dlsym(handle, symbol);                                                       \
        if (target == NULL) {                                                                              \
            snprintf(load_error, sizeof load_error, "libpq.so.5 has no %s", symbol);                       \
            return;                                                                                        \
        }                                                                                                  \
    } while (0)

static void load(void) {
    void *handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) handle = dlopen("libpq.5.dylib", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *reason = dlerror();
        snprintf(load_error, sizeof load_error, "%s", reason ? reason : "libpq.so.5 was not found");
        return;
    }
    RESOLVE(handle, pq_connectdb, "PQconnectdb");
    RESOLVE(handle, pq_status, "PQstatus");
    RESOLVE(handle, pq_error_message, "PQerrorMessage");
    RESOLVE(handle, pq_socket, "PQsocket");
    RESOLVE(handle, pq_finish, "PQfinish");
    RESOLVE(handle, pq_exec_params, "PQexecParams");
    RESOLVE(handle, pq_result_status, "PQresultStatus");
    RESOLVE(handle, pq_result_error_message, "PQresultErrorMessage");
    RESOLVE(handle, pq_result_error_field, "PQresultErrorField");
    RESOLVE(handle, pq_ntuples, "PQntuples");
    RESOLVE(handle, pq_nfields, "PQnfields");
    RESOLVE(handle, pq_getvalue, "PQgetvalue");
    RESOLVE(handle, pq_getlength, "PQgetlength");
    RESOLVE(handle, pq_getisnull, "PQgetisnull");
    RESOLVE(handle, pq_clear, "PQclear");
    loaded = 1;
}

int eslpq_load(void) {
    pthread_once(&once, load);
    return loaded;
}

const char *eslpq_load_error(void) { return load_error; }

eslpq_conn *eslpq_connect(const char *conninfo) { return (eslpq_conn *)pq_connectdb(conninfo); }
int eslpq_is_ok(const eslpq_conn *conn) { return conn != NULL && pq_status(conn) == CONNECTION_OK; }
const char *eslpq_error_message(const eslpq_conn *conn) { return conn ? pq_error_message(conn) : "out of memory"; }
int eslpq_socket(const eslpq_conn *conn) { return pq_socket(conn); }
void eslpq_finish(eslpq_conn *conn) { pq_finish(conn); }

eslpq_result *eslpq_exec_params(
    eslpq_conn *conn, const char *query, int count, const unsigned int *types, const char *const *values, int result_format) {
    return (eslpq_result *)pq_exec_params(conn, query, count, types, values, NULL, NULL, result_format);
}

int eslpq_result_is_ok(const eslpq_result *result) {
    if (result == NULL) return 0;
    int status = pq_result_status(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

const char *eslpq_result_error(const eslpq_result *result) { return result ? pq_result_error_message(result) : "no result"; }
const char *eslpq_result_sqlstate(const eslpq_result *result) {
    return result ? pq_result_error_field(result, PG_DIAG_SQLSTATE) : NULL;
}
int eslpq_rows(const eslpq_result *result) { return pq_ntuples(result); }
int eslpq_columns(const eslpq_result *result) { return pq_nfields(result); }
const char *eslpq_value(const eslpq_result *result, int row, int column) { return pq_getvalue(result, row, column); }
int eslpq_length(const eslpq_result *result, int row, int column) { return pq_getlength(result, row, column); }
int eslpq_is_null(const eslpq_result *result, int row, int column) { return pq_getisnull(result, row, column); }
void eslpq_clear(eslpq_result *result) {
    if (result) pq_clear(result);
}

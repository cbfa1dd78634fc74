#ifndef DISCOVERY_BRIDGE_CCURL_SHIM_H
#define DISCOVERY_BRIDGE_CCURL_SHIM_H
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

/* libcurl is loaded when the first HTTP client starts (dlopen), not when the bridge starts: a bridge fed by the file
   provider alone never maps libcurl and its TLS, LDAP and Kerberos libraries (5.6 MB resident measured here).
   The headers are libcurl's own (libcurl4-openssl-dev); every function the bridge calls goes through the table
   below. Each object file that uses these functions has its own copy of the table, loaded once by
   pthread_once: dlopen of the same library returns the same handle, so the copies agree. */

#define DB_CURL_LIBRARY "libcurl.so.4"

typedef struct db_curl_api {
    int loaded;
    char error[256];
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*free)(void *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    const char *(*multi_strerror)(CURLMcode);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *);
    CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
    CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
} db_curl_api;

/* Function-local statics: Swift emits a header's inline functions into the object files that use them, but not its
   file-scope variables. */
static inline db_curl_api *db_curl_storage(void) { static db_curl_api table; return &table; }
static inline pthread_once_t *db_curl_once(void) { static pthread_once_t once = PTHREAD_ONCE_INIT; return &once; }

static inline void db_curl_load(void) {
    db_curl_api *t = db_curl_storage();
    void *h = dlopen(DB_CURL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(t->error, sizeof t->error, "%s", e ? e : "cannot load " DB_CURL_LIBRARY);
        return;
    }
#define DB_CURL_SYM(field, name) \
    if (!(*(void **)&t->field = dlsym(h, name))) { snprintf(t->error, sizeof t->error, DB_CURL_LIBRARY " lacks %s (libcurl 7.68 or later is needed)", name); return; }
    DB_CURL_SYM(global_init, "curl_global_init")
    DB_CURL_SYM(easy_init, "curl_easy_init")
    DB_CURL_SYM(easy_cleanup, "curl_easy_cleanup")
    DB_CURL_SYM(easy_strerror, "curl_easy_strerror")
    DB_CURL_SYM(easy_setopt, "curl_easy_setopt")
    DB_CURL_SYM(easy_getinfo, "curl_easy_getinfo")
    DB_CURL_SYM(free, "curl_free")
    DB_CURL_SYM(multi_init, "curl_multi_init")
    DB_CURL_SYM(multi_cleanup, "curl_multi_cleanup")
    DB_CURL_SYM(multi_add_handle, "curl_multi_add_handle")
    DB_CURL_SYM(multi_remove_handle, "curl_multi_remove_handle")
    DB_CURL_SYM(multi_info_read, "curl_multi_info_read")
    DB_CURL_SYM(multi_perform, "curl_multi_perform")
    DB_CURL_SYM(multi_poll, "curl_multi_poll")
    DB_CURL_SYM(multi_wakeup, "curl_multi_wakeup")
    DB_CURL_SYM(multi_strerror, "curl_multi_strerror")
    DB_CURL_SYM(multi_setopt, "curl_multi_setopt")
    DB_CURL_SYM(slist_append, "curl_slist_append")
    DB_CURL_SYM(slist_free_all, "curl_slist_free_all")
    DB_CURL_SYM(url, "curl_url")
    DB_CURL_SYM(url_cleanup, "curl_url_cleanup")
    DB_CURL_SYM(url_get, "curl_url_get")
    DB_CURL_SYM(url_set, "curl_url_set")
#undef DB_CURL_SYM
    t->loaded = 1;
}

static inline const db_curl_api *db_curl(void) {
    pthread_once(db_curl_once(), db_curl_load);
    return db_curl_storage();
}

/* Loads libcurl and runs curl_global_init; NULL when ready, else why not (the text stays valid). */
static inline const char *db_curl_global_init(void) {
    const db_curl_api *c = db_curl();
    if (!c->loaded) return c->error;
    if (c->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return "curl_global_init failed";
    return NULL;
}

/* Every call below needs db_curl_global_init() to have returned NULL first. */
static inline CURL *db_curl_easy_init(void) { return db_curl()->easy_init(); }
static inline void db_curl_easy_cleanup(CURL *h) { db_curl()->easy_cleanup(h); }
static inline const char *db_curl_easy_strerror(CURLcode c) { return db_curl()->easy_strerror(c); }
static inline void db_curl_free(void *p) { db_curl()->free(p); }
static inline CURLM *db_curl_multi_init(void) { return db_curl()->multi_init(); }
static inline CURLMcode db_curl_multi_cleanup(CURLM *m) { return db_curl()->multi_cleanup(m); }
static inline CURLMcode db_curl_multi_add_handle(CURLM *m, CURL *h) { return db_curl()->multi_add_handle(m, h); }
static inline CURLMcode db_curl_multi_remove_handle(CURLM *m, CURL *h) { return db_curl()->multi_remove_handle(m, h); }
static inline CURLMsg *db_curl_multi_info_read(CURLM *m, int *left) { return db_curl()->multi_info_read(m, left); }
static inline CURLMcode db_curl_multi_perform(CURLM *m, int *running) { return db_curl()->multi_perform(m, running); }
static inline CURLMcode db_curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned int n, int ms, int *numfds) { return db_curl()->multi_poll(m, fds, n, ms, numfds); }
static inline CURLMcode db_curl_multi_wakeup(CURLM *m) { return db_curl()->multi_wakeup(m); }
static inline const char *db_curl_multi_strerror(CURLMcode c) { return db_curl()->multi_strerror(c); }
static inline struct curl_slist *db_curl_slist_append(struct curl_slist *l, const char *s) { return db_curl()->slist_append(l, s); }
static inline void db_curl_slist_free_all(struct curl_slist *l) { db_curl()->slist_free_all(l); }
static inline CURLU *db_curl_url(void) { return db_curl()->url(); }
static inline void db_curl_url_cleanup(CURLU *u) { db_curl()->url_cleanup(u); }
static inline CURLUcode db_curl_url_get(const CURLU *u, CURLUPart p, char **out, unsigned int flags) { return db_curl()->url_get(u, p, out, flags); }
static inline CURLUcode db_curl_url_set(CURLU *u, CURLUPart p, const char *v, unsigned int flags) { return db_curl()->url_set(u, p, v, flags); }

/* curl_easy_setopt / curl_easy_getinfo / curl_multi_setopt are variadic and cannot be called from Swift:
   these typed wrappers are. */

static inline CURLcode db_curl_setopt_long(CURL *h, CURLoption o, long v) { return db_curl()->easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return db_curl()->easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_str(CURL *h, CURLoption o, const char *v) { return db_curl()->easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_ptr(CURL *h, CURLoption o, void *v) { return db_curl()->easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return db_curl()->easy_setopt(h, o, v); }

typedef size_t (*db_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

static inline CURLcode db_curl_set_write_cb(CURL *h, db_curl_data_cb cb, void *userdata) {
    CURLcode rc = db_curl()->easy_setopt(h, CURLOPT_WRITEFUNCTION, cb);
    if (rc != CURLE_OK) return rc;
    return db_curl()->easy_setopt(h, CURLOPT_WRITEDATA, userdata);
}

static inline CURLcode db_curl_set_header_cb(CURL *h, db_curl_data_cb cb, void *userdata) {
    CURLcode rc = db_curl()->easy_setopt(h, CURLOPT_HEADERFUNCTION, cb);
    if (rc != CURLE_OK) return rc;
    return db_curl()->easy_setopt(h, CURLOPT_HEADERDATA, userdata);
}

static inline CURLcode db_curl_getinfo_long(CURL *h, CURLINFO i, long *out) { return db_curl()->easy_getinfo(h, i, out); }

static inline CURLMcode db_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return db_curl()->multi_setopt(m, o, v); }

/* CURLMsg.data is a union; read its result here. */
static inline CURLcode db_curl_msg_result(const CURLMsg *msg) { return msg->data.result; }

static inline int db_curl_error_size(void) { return CURL_ERROR_SIZE; }

/* Socket accounting: libcurl opens and closes every socket of a transfer through these callbacks, so the counts are
   the TCP connections on the wire (open now, most at once, opened in total) rather than a guess from transfers. */
typedef struct db_curl_sockets { atomic_long open; atomic_long peak; atomic_long opened; } db_curl_sockets;

static inline db_curl_sockets *db_curl_sockets_new(void) {
    db_curl_sockets *c = calloc(1, sizeof(db_curl_sockets));
    return c;
}
static inline void db_curl_sockets_free(db_curl_sockets *c) { free(c); }
static inline long db_curl_sockets_open(db_curl_sockets *c) { return atomic_load(&c->open); }
static inline long db_curl_sockets_peak(db_curl_sockets *c) { return atomic_load(&c->peak); }
static inline long db_curl_sockets_opened(db_curl_sockets *c) { return atomic_load(&c->opened); }
static inline void db_curl_sockets_reset_peak(db_curl_sockets *c) { atomic_store(&c->peak, atomic_load(&c->open)); }

static inline curl_socket_t db_curl_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
    (void)purpose;
    curl_socket_t s = socket(a->family, a->socktype, a->protocol);
    if (s != CURL_SOCKET_BAD && clientp) {
        db_curl_sockets *c = clientp;
        long n = atomic_fetch_add(&c->open, 1) + 1;
        atomic_fetch_add(&c->opened, 1);
        long p = atomic_load(&c->peak);
        while (p < n && !atomic_compare_exchange_weak(&c->peak, &p, n)) {}
    }
    return s;
}

static inline int db_curl_close_socket(void *clientp, curl_socket_t s) {
    if (clientp) atomic_fetch_sub(&((db_curl_sockets *)clientp)->open, 1);
    return close(s);
}

static inline CURLcode db_curl_count_sockets(CURL *h, db_curl_sockets *c) {
    CURLcode rc = db_curl()->easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, db_curl_open_socket);
    if (rc != CURLE_OK) return rc;
    rc = db_curl()->easy_setopt(h, CURLOPT_OPENSOCKETDATA, (void *)c);
    if (rc != CURLE_OK) return rc;
    rc = db_curl()->easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, db_curl_close_socket);
    if (rc != CURLE_OK) return rc;
    return db_curl()->easy_setopt(h, CURLOPT_CLOSESOCKETDATA, (void *)c);
}

#endif

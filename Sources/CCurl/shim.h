#ifndef DISCOVERY_BRIDGE_CCURL_SHIM_H
#define DISCOVERY_BRIDGE_CCURL_SHIM_H
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

/* curl_easy_setopt / curl_easy_getinfo / curl_multi_setopt are variadic and cannot be called from Swift:
   these typed wrappers are. */

static inline CURLcode db_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }

static inline CURLcode db_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode db_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*db_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

static inline CURLcode db_curl_set_write_cb(CURL *h, db_curl_data_cb cb, void *userdata) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cb);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_WRITEDATA, userdata);
}

static inline CURLcode db_curl_set_header_cb(CURL *h, db_curl_data_cb cb, void *userdata) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, cb);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_HEADERDATA, userdata);
}

static inline CURLcode db_curl_getinfo_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }

static inline CURLMcode db_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

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
    CURLcode rc = curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, db_curl_open_socket);
    if (rc != CURLE_OK) return rc;
    rc = curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, (void *)c);
    if (rc != CURLE_OK) return rc;
    rc = curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, db_curl_close_socket);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, (void *)c);
}

#endif

#include "keysource.h"

#include "backend.h"
#include "log.h"
#include "server.h"

#include <string.h>

#ifdef SERVER_HAVE_ETCD
#include <ticketring/etcd.h>

/* The follower's state changes and refusals, in the server's log. */
static void sync_log(int32_t level, const char *msg, void *arg)
{
    (void)arg;
    (void)level;
    log_line("keys source: %s", msg);
}

int keysource_start(struct server *srv)
{
    const struct flags *f = &srv->flags;
    tr_sync *s = NULL;
    int rc = tr_sync_new(&s, srv->ring, f->keys_source);
    if (rc == 0)
        rc = tr_sync_set_node_id(s, f->node_id);
    if (rc == 0)
        rc = tr_sync_set_log(s, sync_log, NULL);
    if (rc == 0 && f->kek != NULL)
        rc = tr_sync_set_kek_file(s, f->kek);
    if (rc == 0 && f->keys != NULL)
        rc = tr_sync_set_local_file(s, f->keys);
    /* The library's poll and request timeout, this lease. */
    if (rc == 0 && f->keys_heartbeat_s != 0)
        rc = tr_sync_set_intervals(s, 30000, f->keys_heartbeat_s, 2000);
    if (rc == 0)
        rc = tr_sync_start(s);
    if (rc != 0) {
        /* The URL holds no credentials (tr_sync_new refuses them). */
        log_line("--keys-source %s: %s", f->keys_source, tr_strerror(rc));
        tr_sync_free(s);
        return -1;
    }
    srv->sync = s;
    return 0;
}

void keysource_stop(struct server *srv)
{
    tr_sync_free(srv->sync);
    srv->sync = NULL;
}

int keysource_ready(struct server *srv)
{
    tr_sync_status st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    return srv->sync != NULL && tr_sync_status_get(srv->sync, &st) == 0 && st.ready;
}

int keysource_metrics(struct server *srv, char *buf, size_t cap, size_t *len)
{
    if (srv->sync != NULL)
        return tr_sync_metrics(srv->sync, buf, cap, len);
    return metrics_none(buf, cap, len);
}

#else

int keysource_start(struct server *srv)
{
    (void)srv;
    log_line("--keys-source: this server was built without libticketring-etcd "
             "(meson -Detcd=enabled)");
    return -1;
}

void keysource_stop(struct server *srv)
{
    (void)srv;
}

int keysource_ready(struct server *srv)
{
    (void)srv;
    return 0;
}

int keysource_metrics(struct server *srv, char *buf, size_t cap, size_t *len)
{
    (void)srv;
    return metrics_none(buf, cap, len);
}

#endif

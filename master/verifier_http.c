/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verifier's lookups, on libcurl's multi interface driven from our own
 * epoll (many at once, none blocking): tailscaled's LocalAPI over its unix
 * socket, and the admission controller over HTTP or HTTPS. Inside the
 * sandbox nothing is opened or resolved: the CA bundle is read into memory
 * and the controller's name resolved (its addresses pinned with
 * CURLOPT_RESOLVE) before it; libcurl's resolver, which would start a
 * thread, is never used. Proxies, redirects and every protocol but
 * http(s) are off.
 */
#include "verifier.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "keyfmt.h"
#include "log.h"
#include "verifier_answer.h"

#define WHOIS_HOST	"local-tailscaled.sock"	/* tailscaled checks Host */
#define CA_MAX		(16 * 1024 * 1024)
#define USER_AGENT	"derpd"

/* One HTTP request of a lookup. */
struct vxfer {
	CURL		*easy;
	struct curl_slist *headers;
	struct vjob	*job;
	char		*body;
	size_t		 len, max;
	int		 truncated;	/* stopped reading at max */
	char		 url[160];
	char		 post[VERIFIER_ADMIT_REQ_MAX];
	char		 err[CURL_ERROR_SIZE];
};

static int
on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct vhttp *h = userp;
	struct epoll_event ev = { .events = 0 };

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	ev.data.u64 = VTAG_CURL | (uint32_t)s;
	if (socketp == NULL) {
		if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev) != 0 &&
		    (errno != EEXIST || epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) != 0))
			fatal("epoll_ctl (curl)");
		curl_multi_assign(h->multi, s, h);
	} else if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) != 0)
		fatal("epoll_ctl (curl)");
	return 0;
}

static int
on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct vhttp *h = userp;

	(void)m;
	h->timer_ms = timeout_ms < 0 ? -1 : verifier_now_ms() + timeout_ms;
	return 0;
}

int
vhttp_timeout(const struct vhttp *h)
{
	int64_t d;

	if (h->timer_ms < 0)
		return -1;
	d = h->timer_ms - verifier_now_ms();
	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct vxfer *x = arg;
	size_t len = size * n, room = x->max - x->len, take = len < room ? len : room;
	char *p;

	if (take > 0) {
		if ((p = realloc(x->body, x->len + take)) == NULL)
			return 0;
		memcpy(p + x->len, data, take);
		x->body = p;
		x->len += take;
	}
	if (take < len) {
		x->truncated = 1;
		return 0;	/* ends the transfer: we have read all we will */
	}
	return len;
}

/* The whole CA bundle, from SSL_CERT_FILE or OpenSSL's default, as Go and
 * OpenSSL find it; read here, before the sandbox. */
static void
load_ca(struct vhttp *h)
{
	const char *path = getenv(X509_get_default_cert_file_env());
	struct stat st;
	ssize_t r;
	int fd;

	if (path == NULL || *path == '\0')
		path = X509_get_default_cert_file();
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0)
		fatal("the CA bundle %s (for -verify-client-url)", path);
	if (st.st_size <= 0 || st.st_size > CA_MAX)
		fatalx("the CA bundle %s is empty or larger than 16 MiB", path);
	if ((h->ca = malloc((size_t)st.st_size)) == NULL)
		fatalx("out of memory for the CA bundle");
	for (h->ca_len = 0; h->ca_len < (size_t)st.st_size; h->ca_len += (size_t)r)
		if ((r = read(fd, h->ca + h->ca_len, (size_t)st.st_size - h->ca_len)) <= 0)
			fatal("reading the CA bundle %s", path);
	close(fd);
}

/* "host:port:addr,addr,..." for CURLOPT_RESOLVE; 0 if there is none. */
static int
pin_addresses(struct vhttp *h, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char line[1024], addr[INET6_ADDRSTRLEN];
	size_t n;
	int rc;

	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		log_warnx("cannot resolve the admission controller %s (%s): until "
		    "the verifier restarts (SIGHUP), it counts as unreachable",
		    host, gai_strerror(rc));
		return 0;
	}
	n = (size_t)snprintf(line, sizeof(line), "%s:%s:", host, port);
	for (ai = res; ai != NULL && n < sizeof(line); ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr,
			    addr, sizeof(addr));
		else if (ai->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
			    addr, sizeof(addr));
		else
			continue;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s%s%s",
		    line[n - 1] == ':' ? "" : ",", ai->ai_family == AF_INET6 ?
		    "[" : "", addr, ai->ai_family == AF_INET6 ? "]" : "");
	}
	freeaddrinfo(res);
	if (n >= sizeof(line) || line[n - 1] == ':')
		return 0;
	if ((h->resolve = curl_slist_append(NULL, line)) == NULL)
		fatalx("out of memory");
	log_info("admission controller %s is at %s", host, line + strlen(host) +
	    strlen(port) + 2);
	return 1;
}

static int
is_address(const char *host)
{
	unsigned char buf[16];
	char v6[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	if (inet_pton(AF_INET, host, buf) == 1)
		return 1;
	if (n < 3 || n - 2 >= sizeof(v6) || host[0] != '[' || host[n - 1] != ']')
		return 0;
	memcpy(v6, host + 1, n - 2);
	v6[n - 2] = '\0';
	return inet_pton(AF_INET6, v6, buf) == 1;
}

/* The controller's URL: http or https; its name resolved now. */
static void
setup_url(struct vhttp *h)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *u = curl_url();

	if (u == NULL || curl_url_set(u, CURLUPART_URL, h->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		fatalx("-verify-client-url %s is not a URL", h->url);
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		fatalx("-verify-client-url must be http:// or https://");
	if (strcmp(scheme, "https") == 0)
		load_ca(h);
	h->resolved = is_address(host) || pin_addresses(h, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

void
vhttp_init(struct vhttp *h, int epfd)
{
	h->epfd = epfd;
	h->timer_ms = -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (h->multi = curl_multi_init()) == NULL)
		fatalx("cannot initialise libcurl");
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)VERIFIER_ACTIVE);
	if (h->url != NULL)
		setup_url(h);
}

/* What every lookup shares: bounded in time and size, no surprises. */
static int
common_opts(struct vxfer *x, const char *protocols)
{
	CURL *e = x->easy;

	return curl_easy_setopt(e, CURLOPT_PRIVATE, x) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)VERIFIER_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, x) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK;
}

static int
whois_opts(struct vhttp *h, struct vxfer *x)
{
	char hex[KEY_HEX_LEN + 1];

	key_format_hex(hex, x->job->key);
	/* Go's url.QueryEscape("nodekey:<hex>"), as derper sends it. */
	snprintf(x->url, sizeof(x->url), "http://" WHOIS_HOST
	    "/localapi/v0/whois?addr=nodekey%%3A%s", hex);
	x->max = VERIFIER_WHOIS_BODY_MAX;
	return common_opts(x, "http") ||
	    curl_easy_setopt(x->easy, CURLOPT_URL, x->url) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_UNIX_SOCKET_PATH, h->socket_path) != CURLE_OK;
}

static int
admit_opts(struct vhttp *h, struct vxfer *x)
{
	struct curl_blob ca = { h->ca, h->ca_len, CURL_BLOB_NOCOPY };
	size_t n = verifier_admit_request(x->post, x->job->key, x->job->ip);

	x->max = VERIFIER_ADMIT_BODY_MAX;
	if (n == 0 ||
	    (x->headers = curl_slist_append(NULL, "Content-Type: application/json")) == NULL ||
	    curl_slist_append(x->headers, "Expect:") == NULL)
		return -1;
	return common_opts(x, "http,https") ||
	    curl_easy_setopt(x->easy, CURLOPT_URL, h->url) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->post) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)n) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers) != CURLE_OK ||
	    (h->resolve != NULL &&
	    curl_easy_setopt(x->easy, CURLOPT_RESOLVE, h->resolve) != CURLE_OK) ||
	    (h->ca != NULL &&
	    curl_easy_setopt(x->easy, CURLOPT_CAINFO_BLOB, &ca) != CURLE_OK);
}

static void
free_xfer(struct vhttp *h, struct vxfer *x)
{
	if (x == NULL)
		return;
	if (x->easy != NULL) {
		curl_multi_remove_handle(h->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->body);
	free(x);
}

/* Unreachable: derper admits only with -verify-client-url-fail-open. */
static uint32_t
unreachable(struct verifier *v, struct vjob *j, const char *why)
{
	char text[KEY_TEXT_MAX];

	key_format_text(text, NODEKEY_PREFIX, j->key);
	if (v->http.fail_open) {
		j->failed_open = 1;
		verifier_log(v, 1, "admission controller unreachable (%s); "
		    "allowing %s", why, text);
		return VR_ADMITTED;
	}
	verifier_log(v, 1, "admission controller unreachable (%s); refusing %s",
	    why, text);
	return VR_ADMISSION_ERROR;
}

int
vhttp_start(struct verifier *v, struct vjob *j, uint32_t *reason)
{
	struct vhttp *h = &v->http;
	int tailscaled = j->stage == VJ_TAILSCALED;
	struct vxfer *x;

	*reason = tailscaled ? VR_TAILSCALED_ERROR : VR_ADMISSION_ERROR;
	if (!tailscaled && !h->resolved) {
		*reason = unreachable(v, j, "its name did not resolve");
		return -1;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		log_warnx("cannot start a lookup: out of memory");
		return -1;
	}
	x->job = j;
	if ((x->easy = curl_easy_init()) == NULL ||
	    (tailscaled ? whois_opts(h, x) : admit_opts(h, x)) != 0 ||
	    curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
		log_warnx("cannot start a lookup (out of memory?)");
		free_xfer(h, x);
		return -1;
	}
	j->xfer = x;
	h->running++;
	return 0;
}

static uint32_t
whois_result(struct verifier *v, struct vxfer *x, CURLcode rc, long status)
{
	char text[KEY_TEXT_MAX];
	const char *why = NULL;
	long oserr = 0;
	uint32_t reason;

	key_format_text(text, NODEKEY_PREFIX, x->job->key);
	if (rc != CURLE_OK) {
		curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
		verifier_log(v, 1, "cannot ask tailscaled at %s about %s: %s",
		    v->http.socket_path, text, x->truncated ? "its answer is "
		    "longer than 256 KiB" : oserr != 0 ? strerror((int)oserr) :
		    x->err[0] != '\0' ? x->err : curl_easy_strerror(rc));
		return VR_TAILSCALED_ERROR;
	}
	reason = verifier_whois_answer(status, x->body, x->len, &why);
	if (reason == VR_TAILSCALED_ERROR)
		verifier_log(v, 1, "failed to query local tailscaled about %s: "
		    "HTTP %ld: %s", text, status, why);
	return reason;
}

static uint32_t
admit_result(struct verifier *v, struct vxfer *x, CURLcode rc, long status)
{
	char text[KEY_TEXT_MAX];
	const char *why = NULL;
	uint32_t reason;

	/* No answer at all is derper's "unreachable"; a broken one is an error. */
	if (rc != CURLE_OK && !x->truncated && status == 0)
		return unreachable(v, x->job, x->err[0] != '\0' ? x->err :
		    curl_easy_strerror(rc));
	key_format_text(text, NODEKEY_PREFIX, x->job->key);
	if (rc != CURLE_OK && !x->truncated) {
		verifier_log(v, 1, "admission controller's answer about %s broke "
		    "off: %s", text, x->err[0] != '\0' ? x->err : curl_easy_strerror(rc));
		return VR_ADMISSION_ERROR;
	}
	reason = verifier_admit_answer(status, x->body, x->len, &why);
	if (reason == VR_ADMISSION_ERROR)
		verifier_log(v, 1, "admission controller: HTTP %ld about %s: %s",
		    status, text, why);
	return reason;
}

/* Hands every finished transfer's verdict to the serving side. */
static void
collect(struct verifier *v)
{
	struct vhttp *h = &v->http;
	struct vxfer *x;
	struct vjob *j;
	CURLMsg *msg;
	long status;
	int left;
	uint32_t reason;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		status = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		j = x->job;
		reason = j->stage == VJ_TAILSCALED ?
		    whois_result(v, x, msg->data.result, status) :
		    admit_result(v, x, msg->data.result, status);
		j->xfer = NULL;
		free_xfer(h, x);
		h->running--;
		vserve_stage_done(v, j, reason);
	}
}

void
vhttp_drive(struct verifier *v, int fd, uint32_t events)
{
	int running, mask = 0;

	if (fd < 0) {
		v->http.timer_ms = -1;
		curl_multi_socket_action(v->http.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	} else {
		if (events & EPOLLIN)
			mask |= CURL_CSELECT_IN;
		if (events & EPOLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (events & (EPOLLERR | EPOLLHUP))
			mask |= CURL_CSELECT_ERR;
		curl_multi_socket_action(v->http.multi, fd, mask, &running);
	}
	collect(v);
}

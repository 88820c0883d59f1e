/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test only: the challenge servers of the ACME test driver (responder.h).
 * One thread, one connection at a time, short timeouts: the validator
 * makes a handful of requests.
 */
#include "responder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acme.h"
#include "log.h"

#define SLOTS		16
#define HTTP_PREFIX	"GET /.well-known/acme-challenge/"

struct http_answer {
	char	*token;
	char	*key_auth;
};

struct alpn_answer {
	char	*sni;
	SSL_CTX	*ctx;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_answer http_answers[SLOTS];
static struct alpn_answer alpn_answers[SLOTS];
static SSL_CTX *base_ctx;
static int http_fd = -1, tls_fd = -1, wake[2] = { -1, -1 };
static pthread_t thread;

static int
listen_on(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 16) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
serve_http(int fd)
{
	char req[2048], *sp, resp[1024] = "HTTP/1.1 404 Not Found\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	ssize_t n;
	size_t got = 0, plen = strlen(HTTP_PREFIX), i;

	req[0] = '\0';
	while (got < sizeof(req) - 1 && strstr(req, "\r\n\r\n") == NULL) {
		if ((n = read(fd, req + got, sizeof(req) - 1 - got)) <= 0)
			return;
		got += (size_t)n;
		req[got] = '\0';
	}
	if (strncmp(req, HTTP_PREFIX, plen) == 0 &&
	    (sp = strchr(req + plen, ' ')) != NULL) {
		*sp = '\0';
		pthread_mutex_lock(&lock);
		for (i = 0; i < SLOTS; i++)
			if (http_answers[i].token != NULL &&
			    strcmp(http_answers[i].token, req + plen) == 0)
				snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
				    "Content-Type: text/plain\r\nContent-Length: "
				    "%zu\r\nConnection: close\r\n\r\n%s",
				    strlen(http_answers[i].key_auth),
				    http_answers[i].key_auth);
		pthread_mutex_unlock(&lock);
	}
	if (write(fd, resp, strlen(resp)) < 0)
		log_warn("responder: write");
}

static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char acme_tls[] = "\x0a" "acme-tls/1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, acme_tls,
	    sizeof(acme_tls) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_ALERT_FATAL;	/* only challenge answers here */
}

static int
select_cert(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int i, found = 0;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (i = 0; name != NULL && i < SLOTS && !found; i++)
		if (alpn_answers[i].sni != NULL &&
		    strcasecmp(alpn_answers[i].sni, name) == 0)
			found = SSL_set_SSL_CTX(ssl, alpn_answers[i].ctx) != NULL;
	pthread_mutex_unlock(&lock);
	if (found)
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void
serve_tls(int fd)
{
	SSL *ssl = SSL_new(base_ctx);

	if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}

static void
serve_one(int lfd, void (*serve)(int))
{
	struct timeval tv = { .tv_sec = 5 };
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	serve(fd);
	close(fd);
}

static void *
run(void *arg)
{
	struct pollfd p[3] = {
		{ .fd = wake[0], .events = POLLIN },
		{ .fd = http_fd, .events = POLLIN },
		{ .fd = tls_fd, .events = POLLIN },
	};

	(void)arg;
	while (poll(p, 3, -1) >= 0 && !(p[0].revents & POLLIN)) {
		if (p[1].revents & POLLIN)
			serve_one(http_fd, serve_http);
		if (p[2].revents & POLLIN)
			serve_one(tls_fd, serve_tls);
	}
	return NULL;
}

static SSL_CTX *
new_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx != NULL) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	}
	return ctx;
}

int
responder_start(int http_port, int tls_port)
{
	if ((base_ctx = new_ctx()) == NULL || pipe2(wake, O_CLOEXEC) == -1)
		return -1;
	SSL_CTX_set_tlsext_servername_callback(base_ctx, select_cert);
	if ((http_port != 0 && (http_fd = listen_on(http_port)) == -1) ||
	    (tls_port != 0 && (tls_fd = listen_on(tls_port)) == -1)) {
		log_warn("responder: cannot listen on 127.0.0.1");
		return -1;
	}
	return pthread_create(&thread, NULL, run, NULL) == 0 ? 0 : -1;
}

void
responder_stop(void)
{
	int i;

	if (write(wake[1], "x", 1) == 1)
		pthread_join(thread, NULL);
	for (i = 0; i < SLOTS; i++) {
		responder_http01_withdraw(NULL, http_answers[i].token);
		responder_tlsalpn01_withdraw(NULL, alpn_answers[i].sni);
	}
	SSL_CTX_free(base_ctx);
	close(http_fd);
	close(tls_fd);
	close(wake[0]);
	close(wake[1]);
}

int
responder_http01_publish(void *arg, const char *token, const char *key_auth,
    char *err)
{
	int i, rc = -1;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (i = 0; i < SLOTS && rc == -1; i++)
		if (http_answers[i].token == NULL) {
			http_answers[i].token = strdup(token);
			http_answers[i].key_auth = strdup(key_auth);
			rc = 0;
		}
	pthread_mutex_unlock(&lock);
	if (rc == -1)
		snprintf(err, ACME_ERR_LEN, "responder: no free slot");
	return rc;
}

void
responder_http01_withdraw(void *arg, const char *token)
{
	int i;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (i = 0; token != NULL && i < SLOTS; i++)
		if (http_answers[i].token != NULL &&
		    strcmp(http_answers[i].token, token) == 0) {
			free(http_answers[i].token);
			free(http_answers[i].key_auth);
			http_answers[i].token = http_answers[i].key_auth = NULL;
		}
	pthread_mutex_unlock(&lock);
}

static SSL_CTX *
answer_ctx(const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx = new_ctx();
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *x = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) :
	    NULL;

	if (ctx == NULL || x == NULL || k == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return ctx;
}

int
responder_tlsalpn01_publish(void *arg, const char *sni, const char *cert_pem,
    const char *key_pem, char *err)
{
	SSL_CTX *ctx = answer_ctx(cert_pem, key_pem);
	int i, rc = -1;

	(void)arg;
	if (ctx == NULL) {
		snprintf(err, ACME_ERR_LEN, "responder: unusable certificate");
		return -1;
	}
	pthread_mutex_lock(&lock);
	for (i = 0; i < SLOTS && rc == -1; i++)
		if (alpn_answers[i].sni == NULL) {
			alpn_answers[i].sni = strdup(sni);
			alpn_answers[i].ctx = ctx;
			rc = 0;
		}
	pthread_mutex_unlock(&lock);
	if (rc == -1) {
		SSL_CTX_free(ctx);
		snprintf(err, ACME_ERR_LEN, "responder: no free slot");
	}
	return rc;
}

void
responder_tlsalpn01_withdraw(void *arg, const char *sni)
{
	int i;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (i = 0; sni != NULL && i < SLOTS; i++)
		if (alpn_answers[i].sni != NULL &&
		    strcmp(alpn_answers[i].sni, sni) == 0) {
			free(alpn_answers[i].sni);
			SSL_CTX_free(alpn_answers[i].ctx);
			alpn_answers[i].sni = NULL;
			alpn_answers[i].ctx = NULL;
		}
	pthread_mutex_unlock(&lock);
}

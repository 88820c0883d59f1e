/* SPDX-License-Identifier: BSD-3-Clause */
#include "report.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_name[] = {
	[CHECK_OK] = "ok", [CHECK_WARNING] = "warning",
	[CHECK_CRITICAL] = "critical", [CHECK_SKIPPED] = "skipped",
};

struct check *
report_add(struct report *r, const char *name)
{
	struct check *c = &r->checks[r->n < REPORT_MAX ? r->n++ : REPORT_MAX - 1];

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->status = CHECK_SKIPPED;
	return c;
}

void
check_set(struct check *c, enum check_status st, const char *fmt, ...)
{
	va_list ap;

	c->status = st;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

void
check_value(struct check *c, double value, const char *unit)
{
	c->value = value;
	c->unit = unit;
}

void
check_limit(struct check *c, double value, double limit, const char *what)
{
	size_t n = strlen(c->detail);

	if (c->status != CHECK_OK || value <= limit)
		return;
	c->status = CHECK_WARNING;
	snprintf(c->detail + n, sizeof(c->detail) - n, "; %s above %.0f", what,
	    limit);
}

int
report_exit(const struct report *r)
{
	int worst = 0;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->checks[i].status != CHECK_SKIPPED &&
		    (int)r->checks[i].status > worst)
			worst = (int)r->checks[i].status;
	return worst;
}

/* "DERP CRITICAL: round-trip, ping" or "DERP OK: 9 checks" */
static void
print_summary(const struct report *r)
{
	static const char *const word[] = { "OK", "WARNING", "CRITICAL" };
	int worst = report_exit(r), first = 1;
	size_t i, ran = 0;

	printf("DERP %s: %s", word[worst], r->url);
	for (i = 0; i < r->n; i++) {
		ran += r->checks[i].status != CHECK_SKIPPED;
		if (worst == 0 || (int)r->checks[i].status != worst)
			continue;
		printf("%s%s", first ? ": " : ", ", r->checks[i].name);
		first = 0;
	}
	if (worst == 0)
		printf(": %zu checks passed", ran);
	printf("\n");
}

static void
print_json(const struct report *r)
{
	json_t *root = json_object(), *arr = json_array(), *o;
	char *text;
	size_t i;

	json_object_set_new(root, "url", json_string(r->url));
	json_object_set_new(root, "status", json_string(status_name[report_exit(r)]));
	json_object_set_new(root, "exit", json_integer(report_exit(r)));
	for (i = 0; i < r->n; i++) {
		o = json_object();
		json_object_set_new(o, "name", json_string(r->checks[i].name));
		json_object_set_new(o, "status",
		    json_string(status_name[r->checks[i].status]));
		json_object_set_new(o, "detail", json_string(r->checks[i].detail));
		if (r->checks[i].unit != NULL) {
			json_object_set_new(o, "value", json_real(r->checks[i].value));
			json_object_set_new(o, "unit", json_string(r->checks[i].unit));
		}
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "checks", arr);
	if ((text = json_dumps(root, JSON_INDENT(2))) != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(root);
}

void
report_print(const struct report *r, int json)
{
	size_t i;

	if (json) {
		print_json(r);
		return;
	}
	print_summary(r);
	for (i = 0; i < r->n; i++)
		printf("%-17s %-9s %s\n", r->checks[i].name,
		    status_name[r->checks[i].status], r->checks[i].detail);
	fflush(stdout);
}

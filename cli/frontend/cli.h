/* Shared pieces of the command-line front-end: exit codes, error and usage messages in
 * the house format, getopt_long with those messages, JSON output and number formatting.
 * Every command (cmd_<name>.c) uses these so that all commands behave alike. */
#ifndef GM_CLI_H
#define GM_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "genmoji/gm.h"

/* Process exit codes of every command. */
enum { GM_CLI_OK = 0, GM_CLI_FAIL = 1, GM_CLI_USAGE = 2 };

/* Returned by gm_cli_getopt after it printed a usage error: the command returns 2. */
#define GM_CLI_BADOPT (-2)

/* "genmoji: <message>" on stderr. Returns GM_CLI_FAIL. */
int gm_cli_fail(const char *fmt, ...) GM_PRINTF(1, 2);
/* The engine's message of a failed call, "genmoji: <err->msg>". Returns GM_CLI_FAIL. */
int gm_cli_fail_err(const gm_error *err);
/* "genmoji: CMD: <message> (see 'genmoji CMD --help')" on stderr, one line.
 * Returns GM_CLI_USAGE. */
int gm_cli_usage(const char *cmd, const char *fmt, ...) GM_PRINTF(2, 3);

/* getopt_long over a command's argv (argv[0] is the command name), restarted from the
 * first argument on its first call for that argv. Returns the option's value, -1 after
 * the last option (operands start at optind), or GM_CLI_BADOPT once it has printed a
 * usage error for an unknown option, a missing argument or an unwanted one. */
int gm_cli_getopt(int argc, char **argv, const char *shortopts,
                  const struct option *longopts);
/* A usage error for the first operand left after the options, if any: for commands that
 * take none. Returns 0 or GM_CLI_USAGE. */
int gm_cli_no_operands(int argc, char **argv);

/* Prints a command's help text on stdout. Returns GM_CLI_OK. */
int gm_cli_help(const char *text);

/* Prints root as indented JSON and a newline on stdout, then deletes root.
 * NULL (a failed cJSON allocation) is reported as out of memory. Returns 0 or 1.
 * The text is valid UTF-8 whatever the strings held (gm_cli_utf8_fix). */
int gm_cli_print_json(cJSON *root);

/* Seconds on the monotonic clock: the one clock of the front-end, for every duration it
 * measures or shows. */
double gm_cli_now(void);
/* A malloc'd copy of s that is valid UTF-8: every maximal ill-formed subsequence (a
 * stray continuation byte, a truncated sequence, an overlong form, a surrogate, a value
 * above U+10FFFF, a byte 0xc0, 0xc1 or 0xf5..0xff) becomes one U+FFFD, as Unicode's
 * "substitution of maximal subparts" practice says; valid text comes back unchanged.
 * On JSON text it keeps the JSON valid: only bytes >= 0x80 change, and those sit inside
 * strings. NULL on no memory. */
char *gm_cli_utf8_fix(const char *s);
/* cJSON_Print / cJSON_PrintUnformatted (formatted != 0 for the first) made valid UTF-8
 * with gm_cli_utf8_fix; free with free(). NULL on no memory or a NULL root. */
char *gm_cli_json_text(const cJSON *root, int formatted);

/* "512 B", "256.0 KiB", "15.6 GiB" into buf. Returns buf. */
const char *gm_cli_bytes(uint64_t n, char *buf, size_t size);

/* mkdir -p: creates path and its missing parents; an error names the part that failed. */
int gm_cli_make_dirs(const char *path, gm_error *err);

/* 1 when a and b are the same existing file: the same device and inode, so hard links,
 * symbolic links and other spellings of one path count; 0 when either does not exist
 * (an output not written yet cannot be an input). */
int gm_cli_same_file(const char *a, const char *b);

/* A path a command reads or writes, with the option that named it ("--checkpoint"). */
typedef struct gm_cli_path {
  const char *option;
  const char *path;  /* NULL: not given, skipped */
} gm_cli_path;

/* The check every command makes before it starts work: a usage error when an output is
 * the same file as an input ("genmoji: CMD: --out K is the same file as --checkpoint K;
 * it would be overwritten"), or when two outputs are one file (the same existing file, or
 * the same name in the same folder). Returns 0 or GM_CLI_USAGE after the message. */
int gm_cli_check_outputs(const char *cmd, const gm_cli_path *in, int n_in,
                         const gm_cli_path *out, int n_out);

/* A usage error ("CMD: OPTION N: ... over the 2^31 - 1 elements of one tensor ...") when n
 * images of 3 x s x s values do not fit one tensor; names the largest n that does.
 * Returns 0 or GM_CLI_USAGE. */
int gm_cli_check_images(const char *cmd, const char *option, long long n, int s);

/* A duration "90s", "5m", "1h30m", "2.5m" or "300" (seconds) into *seconds; 0 only when
 * allow_zero. -1 (nothing printed) when s is not one. */
int gm_cli_parse_duration(const char *s, int allow_zero, double *seconds);

/* A whole decimal number in lo..hi into *out; -1 (nothing printed) when s is not one. */
int gm_cli_parse_long(const char *s, long long lo, long long hi, long long *out);

/* A device's identity and size into a JSON object, as every command reports it: name,
 * vendor, type, platform, platform_version, version, driver_version, compute_units,
 * global_mem_bytes. Callers add their own fields beside them. */
void gm_cli_device_fields(cJSON *o, const gm_device_info *d);

#endif

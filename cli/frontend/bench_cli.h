/* What `genmoji bench ops` (cmd_bench.c) and `genmoji bench models` (cmd_bench_models.c)
 * share: the device header of both outputs, comma lists of numbers, and the models
 * benchmark's entry point, which cmd_bench.c dispatches to. */
#ifndef GM_CLI_BENCH_CLI_H
#define GM_CLI_BENCH_CLI_H

#include "cli.h"

/* The device and the genmoji version as a JSON object: name, vendor, type, platform,
 * platform_version, version, driver_version, compute_units, genmoji. */
cJSON *gm_cli_bench_device_json(const gm_device_info *d);
/* "device: ..." and "gemm backends: ..." lines on stdout. */
void gm_cli_bench_print_device(const gm_device_info *d, const char *backends);
/* "8,64" into out[0..max): each in lo..hi; returns how many, or -1 for a bad list. */
int gm_cli_bench_int_list(const char *s, int lo, int hi, int *out, int max);

/* `genmoji bench models ...`: argv[0] is "bench", the options follow. */
int gm_cli_bench_models(int argc, char **argv, gm_host *host);

#endif

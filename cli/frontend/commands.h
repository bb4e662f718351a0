/* The commands of the command-line front-end. Each lives in cmd_<name>.c; adding one is a
 * declaration here and a row in the table in frontend.c. argv[0] is the command name;
 * each returns the exit code (0 ok, 1 failure, 2 usage). */
#ifndef GM_CLI_COMMANDS_H
#define GM_CLI_COMMANDS_H

#include "genmoji/gm.h"

int gm_cli_cmd_devices(int argc, char **argv, gm_host *host);
int gm_cli_cmd_plugins(int argc, char **argv, gm_host *host);
int gm_cli_cmd_help(int argc, char **argv, gm_host *host);
int gm_cli_cmd_version(int argc, char **argv, gm_host *host);
int gm_cli_cmd_dataset(int argc, char **argv, gm_host *host);
int gm_cli_cmd_train(int argc, char **argv, gm_host *host);
int gm_cli_cmd_sample(int argc, char **argv, gm_host *host);
int gm_cli_cmd_eval(int argc, char **argv, gm_host *host);
int gm_cli_cmd_forward(int argc, char **argv, gm_host *host);
int gm_cli_cmd_compare(int argc, char **argv, gm_host *host);
int gm_cli_cmd_bench(int argc, char **argv, gm_host *host);
int gm_cli_cmd_features(int argc, char **argv, gm_host *host);
int gm_cli_cmd_score(int argc, char **argv, gm_host *host);

#endif

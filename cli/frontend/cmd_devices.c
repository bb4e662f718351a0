/* `genmoji devices`: every OpenCL platform and device, with the one genmoji would use
 * (by --device, env GM_DEVICE, or the default rule) marked. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
    "Usage: genmoji devices [--json] [--device SEL]\n"
    "\n"
    "Lists every OpenCL platform and device. '*' marks the device genmoji would use:\n"
    "the one --device picks, else the one env GM_DEVICE picks, else the first GPU, else\n"
    "the first device.\n"
    "\n"
    "Options:\n"
    "  -d, --device SEL  a device index as listed, or a case-insensitive substring of\n"
    "                    \"platform / device / vendor\"\n"
    "      --json        print {\"devices\": [...]} on stdout, with \"selected\": true on\n"
    "                    the device genmoji would use\n"
    "  -h, --help        show this help\n";

static cJSON *device_json(const gm_device_info *d, int selected) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "index", d->global_index);
  cJSON_AddNumberToObject(o, "platform_index", d->platform_index);
  cJSON_AddNumberToObject(o, "device_index", d->device_index);
  gm_cli_device_fields(o, d);
  cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem_bytes);
  cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc_bytes);
  cJSON_AddNumberToObject(o, "max_work_group_size", (double)d->max_work_group_size);
  cJSON_AddNumberToObject(o, "preferred_vector_width_float", d->preferred_vector_width_float);
  cJSON_AddBoolToObject(o, "selected", selected);
  return o;
}

static int print_json(const gm_device_info *list, int count, int selected) {
  cJSON *root = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(root, "devices");
  for (int i = 0; i < count; i++) cJSON_AddItemToArray(arr, device_json(&list[i], i == selected));
  return gm_cli_print_json(root);
}

static void print_text(const gm_device_info *list, int count, int selected) {
  char global[32], local[32];
  for (int i = 0; i < count; i++) {
    const gm_device_info *d = &list[i];
    if (i == 0 || d->platform_index != list[i - 1].platform_index)
      printf("%splatform %d: %s (%s)\n", i ? "\n" : "", d->platform_index, d->platform_name,
             d->platform_version);
    printf("%c [%d] %s\n", i == selected ? '*' : ' ', d->global_index, d->name);
    printf("      %s, vendor %s, %s, driver %s\n", gm_device_type_name(d->type), d->vendor,
           d->version, d->driver_version);
    printf("      %u compute units, global memory %s, local memory %s\n", d->compute_units,
           gm_cli_bytes(d->global_mem_bytes, global, sizeof global),
           gm_cli_bytes(d->local_mem_bytes, local, sizeof local));
    printf("      max work-group size %zu, preferred float vector width %u\n",
           d->max_work_group_size, d->preferred_vector_width_float);
  }
  printf("\n* the device genmoji would use\n");
}

int gm_cli_cmd_devices(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      {"device", required_argument, NULL, 'd'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *selector = NULL;
  int json = 0, c;
  while ((c = gm_cli_getopt(argc, argv, "d:h", longopts)) != -1) {
    switch (c) {
    case 'd': selector = optarg; break;
    case 'j': json = 1; break;
    case 'h': return gm_cli_help(usage);
    default: return GM_CLI_USAGE;
    }
  }
  if (gm_cli_no_operands(argc, argv)) return GM_CLI_USAGE;

  gm_error err = {0};
  gm_device_info *list = NULL;
  int count = 0;
  if (gm_device_list(&list, &count, &err)) return gm_cli_fail_err(&err);
  int selected = gm_device_select(list, count, selector, &err);
  int rc;
  if (selected < 0)
    rc = gm_cli_fail_err(&err);
  else if (json)
    rc = print_json(list, count, selected);
  else {
    print_text(list, count, selected);
    rc = GM_CLI_OK;
  }
  free(list);
  return rc;
}

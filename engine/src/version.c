/* The library's version string, set by CMake from project(VERSION). */
#include "genmoji/gm.h"

const char *gm_version(void) { return GM_VERSION_STRING; }

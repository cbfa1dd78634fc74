#ifndef DISCOVERY_BRIDGE_CCURL_SHIM_H
#define DISCOVERY_BRIDGE_CCURL_SHIM_H
#include <curl/curl.h>
#endif

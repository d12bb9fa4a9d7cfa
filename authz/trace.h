#include "trace/trace-authz.h"

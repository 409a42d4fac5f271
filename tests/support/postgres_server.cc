// PLACEHOLDER (issue 6 skeleton).
#include "tests/support/postgres_server.h"

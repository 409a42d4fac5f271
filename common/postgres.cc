#include "common/postgres.h"

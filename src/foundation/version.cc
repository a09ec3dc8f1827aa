// SPDX-License-Identifier: Apache-2.0
#include "shardwal/version.h"

namespace shardwal {

std::string_view Version() { return SHARDWAL_VERSION_STRING; }

}  // namespace shardwal

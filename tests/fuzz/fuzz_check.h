// SPDX-License-Identifier: Apache-2.0
// What the fuzz harness shares: FUZZ_CHECK (abort on a failed property,
// naming it), and the entry points of the parts in other files.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace shardwal {

// decoder_fuzz.cc: the format decoders (segment header, batch header,
// record, both versions) and Manifest::Parse.
void FuzzDecoders(const std::string& in);
void FuzzManifest(const std::string& in);

}  // namespace shardwal

#pragma once

namespace mast {

// The trailing metadata key of a successful write's store version (decimal),
// for a later read's min_store_version (read your own writes). Header only:
// clients (mastctl) include it without the server's code.
inline constexpr char kStoreVersionTrailer[] = "mast-store-version";

}  // namespace mast

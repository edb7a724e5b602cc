# Builds the native DCSM (native/) as build/Release/htmqc_native.node against
# the machine's Node headers: run node-gyp with --nodedir=/usr (or
# npm_config_nodedir=/usr) so nothing is downloaded.
{
  "targets": [
    {
      "target_name": "htmqc_native",
      "sources": [
        "native/src/core/dcsm.cc",
        "native/src/addon.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/src"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++1y", "-std=gnu++17", "-O2"],
      "cflags": ["-O3"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3"
      }
    }
  ]
}

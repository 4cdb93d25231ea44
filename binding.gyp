# The namm native kernels. Built by `npm install` (scripts/build-native.mjs) with node-gyp + node-addon-api and
# nothing else: no BLAS, no downloads. The binary is portable (no -march=native): the AVX2 and AVX-512 kernels are
# compiled with per-function target attributes and chosen at run time from the CPU's feature bits.
{
  "targets": [
    {
      "target_name": "namm_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/args.cc",
        "native/src/cpu.cc",
        "native/src/thread_pool.cc",
        "native/src/isa_scalar.cc",
        "native/src/isa_avx2.cc",
        "native/src/isa_avx512.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2", "-O0"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"] } }
    }
  ]
}

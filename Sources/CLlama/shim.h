// llama.cpp's C API (libllama), built and installed by scripts/setup.sh (pkg-config `llama`).
#include <llama.h>

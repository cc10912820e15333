#ifndef KB_COPENBLAS_SHIM_H
#define KB_COPENBLAS_SHIM_H
/* Debian's libopenblas-dev: cblas.h (an alternatives link to OpenBLAS's header) declares
   cblas_sgemm and openblas_set_num_threads. */
#include <cblas.h>
#endif

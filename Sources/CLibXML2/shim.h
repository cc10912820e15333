#ifndef KB_CLIBXML2_SHIM_H
#define KB_CLIBXML2_SHIM_H
/* Debian's libxml2 is built with ICU; its ICU declarations clash with Foundation's private ICU copy
   when both are imported into one Swift module. xmlversion.h must come first so the #undef sticks. */
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/// `xmlFree` is a global function pointer variable; calling it from Swift 6 is a concurrency error.
static inline void kb_xml_free(void *pointer) { xmlFree(pointer); }

/// Silences libxml2's default error printing to stderr (errors are collected per document instead).
static inline void kb_xml_silence_errors(void) {
    xmlSetGenericErrorFunc(NULL, NULL);
}
#endif

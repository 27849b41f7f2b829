// CLibXML2: the system headers, nothing more (no logic in C targets).
#pragma once
#include <libxml/xmlversion.h>
// Debian's libxml2 is built with ICU, so <libxml/encoding.h> would include the system's <unicode/ucnv.h>,
// whose enums clash with the ICU copy inside Foundation (_FoundationICU) in any module that imports both.
// imgsec never touches libxml2's encoding handlers (the only ICU-dependent declarations), so hide them.
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

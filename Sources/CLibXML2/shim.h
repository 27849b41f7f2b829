// CLibXML2: the system header, nothing more (no logic in C targets).
#pragma once
#include <libxml/xmlreader.h>
#include <libxml/parser.h>

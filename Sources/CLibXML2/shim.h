// Why this shim exists: imgsec opens libxml2 with dlopen on the first XML document it reads (rpm repodata,
// updateinfo) instead of linking it. Linked, libxml2 and the ICU it is built with took ~0.5 ms of every process's
// start-up, `imgsec check` answering from the result cache included, and Debian machines never need it. So no
// libxml2 development package is needed: these are the few declarations of <libxml/parser.h> and
// <libxml/xmlerror.h> imgsec uses, from libxml2's stable ABI (libxml2.so.2; the struct layouts are those of
// libxml2 2.9, unchanged since SAX2 was added). Callbacks imgsec never sets are plain pointers.
#pragma once

typedef struct cxml_parser_ctxt cxml_parser_ctxt;  // xmlParserCtxt

/// xmlError: only `message` and `line` are read.
struct cxml_error {
    int domain;
    int code;
    char *_Nullable message;
    int level;
    char *_Nullable file;
    int line;
    char *_Nullable str1;
    char *_Nullable str2;
    char *_Nullable str3;
    int int1;
    int int2;
    void *_Nullable ctxt;
    void *_Nullable node;
};

/// xmlSAXHandler, field for field.
struct cxml_sax_handler {
    void *_Nullable internalSubset;
    void *_Nullable isStandalone;
    void *_Nullable hasInternalSubset;
    void *_Nullable hasExternalSubset;
    void *_Nullable resolveEntity;
    void *_Nullable getEntity;
    void *_Nullable entityDecl;
    void *_Nullable notationDecl;
    void *_Nullable attributeDecl;
    void *_Nullable elementDecl;
    void *_Nullable unparsedEntityDecl;
    void *_Nullable setDocumentLocator;
    void *_Nullable startDocument;
    void *_Nullable endDocument;
    void *_Nullable startElement;
    void *_Nullable endElement;
    void *_Nullable reference;
    void (*_Nullable characters)(void *_Nullable ctx, const unsigned char *_Nullable ch, int len);
    void *_Nullable ignorableWhitespace;
    void *_Nullable processingInstruction;
    void *_Nullable comment;
    void *_Nullable warning;
    void *_Nullable error;
    void *_Nullable fatalError;
    void *_Nullable getParameterEntity;
    void (*_Nullable cdataBlock)(void *_Nullable ctx, const unsigned char *_Nullable value, int len);
    void *_Nullable externalSubset;
    unsigned int initialized;
    void *_Nullable _private;
    void (*_Nullable startElementNs)(void *_Nullable ctx, const unsigned char *_Nullable localname,
                                     const unsigned char *_Nullable prefix, const unsigned char *_Nullable URI,
                                     int nb_namespaces, const unsigned char *_Nullable *_Nullable namespaces,
                                     int nb_attributes, int nb_defaulted,
                                     const unsigned char *_Nullable *_Nullable attributes);
    void (*_Nullable endElementNs)(void *_Nullable ctx, const unsigned char *_Nullable localname,
                                   const unsigned char *_Nullable prefix, const unsigned char *_Nullable URI);
    void (*_Nullable serror)(void *_Nullable userData, struct cxml_error *_Nullable error);
};

/// XML_SAX2_MAGIC: the handler has the namespace-aware (SAX2) callbacks.
#define CXML_SAX2_MAGIC 0xDEEDBEAFu
/// xmlParserOption values imgsec sets.
#define CXML_PARSE_NOERROR (1 << 5)
#define CXML_PARSE_NOWARNING (1 << 6)
#define CXML_PARSE_NONET (1 << 11)
#define CXML_PARSE_NOCDATA (1 << 14)

/// The libxml2 functions imgsec calls, by their names without `xml`.
struct cxml_api {
    cxml_parser_ctxt *_Nullable (*_Nonnull CreatePushParserCtxt)(struct cxml_sax_handler *_Nullable sax, void *_Nullable user_data,
                                                                 const char *_Nullable chunk, int size, const char *_Nullable filename);
    int (*_Nonnull CtxtUseOptions)(cxml_parser_ctxt *_Nonnull ctxt, int options);
    void (*_Nonnull FreeParserCtxt)(cxml_parser_ctxt *_Nonnull ctxt);
    int (*_Nonnull ParseChunk)(cxml_parser_ctxt *_Nonnull ctxt, const char *_Nullable chunk, int size, int terminate);
    int (*_Nonnull SAX2GetLineNumber)(void *_Nonnull ctx);
    struct cxml_error *_Nullable (*_Nonnull CtxtGetLastError)(void *_Nonnull ctx);
};

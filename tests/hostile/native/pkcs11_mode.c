/* A minimal PKCS#11 module for the hostile tests: MODE picks where it misbehaves. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;
typedef struct {
  CK_VERSION cryptokiVersion; unsigned char manufacturerID[32]; CK_ULONG flags;
  unsigned char libraryDescription[32]; CK_VERSION libraryVersion;
} CK_INFO;
typedef CK_RV (*fn)(void);
typedef struct { CK_VERSION version; fn f[68]; } CK_FUNCTION_LIST;

#define MODE_OK 0
#define MODE_CRASH_INIT 1
#define MODE_HANG_INIT 2
#define MODE_CRASH_SLOTS 3
#define MODE_HANG_SLOTS 4
#define MODE_CONSTRUCTOR 5

static void misbehave(int when) {
  if (MODE != when) return;
  if (MODE == MODE_CRASH_INIT || MODE == MODE_CRASH_SLOTS) { volatile int *p = 0; *p = 1; }
  for (;;) pause();
}
#if MODE == MODE_CONSTRUCTOR
__attribute__((constructor)) static void ran(void) {
  const char *p = getenv("HOSTILE_MARK"); FILE *f;
  if (p && (f = fopen(p, "a"))) { fputs("constructor ran\n", f); fclose(f); }
}
#endif
static CK_RV unsupported(void) { return 0x54; }
static CK_RV initialize(void *a) { (void)a; misbehave(MODE_CRASH_INIT); misbehave(MODE_HANG_INIT); return 0; }
static CK_RV finalize(void *a) { (void)a; return 0; }
static CK_RV get_info(CK_INFO *i) {
  memset(i, ' ', sizeof *i); i->cryptokiVersion.major = 2; i->cryptokiVersion.minor = 40; i->flags = 0;
  i->libraryVersion.major = 1; i->libraryVersion.minor = 0; return 0;
}
static CK_RV get_slot_list(unsigned char present, CK_ULONG *list, CK_ULONG *count) {
  (void)present; (void)list; misbehave(MODE_CRASH_SLOTS); misbehave(MODE_HANG_SLOTS); *count = 0; return 0;
}
static CK_FUNCTION_LIST list;
CK_RV C_GetFunctionList(CK_FUNCTION_LIST **out) {
  int i; list.version.major = 2; list.version.minor = 40;
  for (i = 0; i < 68; i++) list.f[i] = unsupported;
  list.f[0] = (fn)initialize; list.f[1] = (fn)finalize; list.f[2] = (fn)get_info;
  list.f[3] = (fn)C_GetFunctionList; list.f[4] = (fn)get_slot_list;
  *out = &list; return 0;
}

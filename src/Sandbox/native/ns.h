/* ns.h - namespace setup that happens inside the sandbox, before its mounts. */
#ifndef SBX_NS_H
#define SBX_NS_H

#include "spec.h"

#include <sys/types.h>

/* Map spec namespace flags to clone flags (the time namespace is unshared later). */
unsigned long ns_clone_flags(uint32_t namespaces);

void ns_set_hostname(const char *hostname);
void ns_bring_up_loopback(void);
/* Unshare the time namespace with the spec's offsets; it applies to children only. */
void ns_enter_time_namespace(const struct sbx_spec *spec);

/* In the helper: write the child's setgroups, uid_map and gid_map. */
void idmap_write(pid_t child, const struct sbx_spec *spec);

#endif

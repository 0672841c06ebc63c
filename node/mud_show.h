/* `tracectl mud show`: what a MUD file lets the device talk to, for the operator who is
 * about to turn it into firewall rules. */
#ifndef TN_NODE_MUD_SHOW_H
#define TN_NODE_MUD_SHOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/mud.h"

/* The summary of a file that passed proto_mud_check: the device, then one entry per ACE
 * for each direction ("from_device", "to_device"). */
json_t *node_mud_show_json(const struct proto_mud_report *rep);

/* The report's errors (warnings false) or warnings as [{path, rule, message}]. */
json_t *node_mud_issues_json(const struct proto_mud_report *rep, bool warnings);

/* The same summary for people. */
void node_mud_show_text(const json_t *summary, FILE *out);

#endif

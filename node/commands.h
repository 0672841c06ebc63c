/* tracectl commands. Each takes the arguments after its name and returns the exit
 * code (node/cli.h). */
#ifndef TN_NODE_COMMANDS_H
#define TN_NODE_COMMANDS_H

int cmd_keygen(int argc, char **argv);
int cmd_ecosystem(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_proof(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_governance(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_where_used(int argc, char **argv);
int cmd_disclose(int argc, char **argv);
int cmd_verify_disclosure(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_verify_bundle(int argc, char **argv);
int cmd_mud(int argc, char **argv);
int cmd_fsck(int argc, char **argv);

#endif

/* ticketring-keys: one function per command; each parses its own
 * arguments (argv after the command name) and returns the exit status. */
#ifndef TICKETRING_TOOLS_KEYS_COMMANDS_H
#define TICKETRING_TOOLS_KEYS_COMMANDS_H

int trk_cmd_generate(int argc, char **argv);
int trk_cmd_inspect(int argc, char **argv);
int trk_cmd_verify(int argc, char **argv);
int trk_cmd_fingerprint(int argc, char **argv);
int trk_cmd_rotate(int argc, char **argv);
int trk_cmd_check(int argc, char **argv);
int trk_cmd_import(int argc, char **argv);
int trk_cmd_export(int argc, char **argv);
int trk_cmd_revoke(int argc, char **argv);
#ifdef TRK_HAVE_ETCD
int trk_cmd_kek(int argc, char **argv);
int trk_cmd_publish(int argc, char **argv);
int trk_cmd_status(int argc, char **argv);
int trk_cmd_daemon(int argc, char **argv);
int trk_cmd_revoke_store(int argc, char **argv);
#endif

#endif

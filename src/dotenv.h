/*
 * dotenv.h -- the .env file Go2NetSpectra's users keep beside their
 * configuration: KEY=VALUE lines put into the environment before the
 * configuration's ${VAR} references are expanded (netspectra.yaml(5),
 * "ENVIRONMENT").
 *
 * A variable already in the environment wins over the file; one that an
 * earlier read of a .env set in this process does not (so a SIGHUP sees
 * a changed .env).  Lines: blank, "# comment", or "[export ]KEY=VALUE"
 * with VALUE bare (to a " #" comment, blanks trimmed), in single quotes
 * (literal) or in double quotes (\n \t \r \\ \" \$ escapes).
 */
#ifndef NS_DOTENV_H
#define NS_DOTENV_H

#include <stddef.h>

/*
 * Read path into the environment.  0; -EINVAL with "FILE:LINE:COL:
 * message" in err for a line that is not one of the above (nothing of
 * the file is set then); -errno when it cannot be read (also in err).
 */
int	 ns_dotenv_load(const char *path, char *err, size_t errlen);

/*
 * The .env in the directory of config_path (".env" for a bare file
 * name): as ns_dotenv_load(), and 0 when there is none.
 */
int	 ns_dotenv_load_beside(const char *config_path, char *err,
	    size_t errlen);

#endif /* NS_DOTENV_H */

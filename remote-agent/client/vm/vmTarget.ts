/**
 * `vm:NAME` as a target: the SSH connection to a running kernel VM (root on its forwarded
 * 127.0.0.1 port, its own client key, its own known_hosts holding its host key, and an empty ssh
 * config). A VM that is not running is a connect error that says how to start it.
 */
import { AgentSessionError } from '../sessionError';
import type { SshConnectOptions } from '../sshTransport';
import type { VmCachePaths } from './cachePaths';
import { vmConnection } from './vmManager';

export function vmSshOptions(name: string, paths?: VmCachePaths): Pick<SshConnectOptions, 'host' | 'port' | 'user' | 'identityFile' | 'knownHostsFile' | 'sshConfigFile'> {
  let connection;
  try {
    connection = vmConnection(name, paths);
  } catch (error) {
    throw new AgentSessionError('connect', (error as Error).message, { cause: error });
  }
  return {
    host: '127.0.0.1',
    port: connection.port,
    user: 'root',
    identityFile: connection.identityFile,
    knownHostsFile: connection.knownHostsFile,
    sshConfigFile: connection.sshConfigFile,
  };
}

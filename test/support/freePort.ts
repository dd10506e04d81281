/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for the servers the tests start: the same
 * probe the kernel VMs use for their forwarded SSH.
 */
import { freeLoopbackPort } from '../../remote-agent/client/vm/loopbackPort';

export const freePort = freeLoopbackPort;

import { createPublicKey } from 'node:crypto';
import { IoclusterError, JWT_ALGORITHMS, type JwtAlgorithm } from '@iocluster/shared';
import {
  createRemoteJWKSet,
  errors,
  importSPKI,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';

/** Where the verification key comes from: exactly one of `secret`, `publicKeyPem`, `jwksUrl`. */
export interface JwtAuthOptions {
  /** Shared secret (HS256/384/512). @defaultValue none */
  secret?: string;
  /** SPKI PEM public key (RS*, PS*, ES*, EdDSA). @defaultValue none */
  publicKeyPem?: string;
  /** URL of a JSON Web Key Set, fetched and cached (keys chosen by `kid`). @defaultValue none */
  jwksUrl?: string;
  /** Required `iss`. @defaultValue not checked */
  issuer?: string;
  /** Required `aud` (any of these). @defaultValue not checked */
  audience?: readonly string[];
  /** Accepted `alg`s. @defaultValue HS256/384/512 for a secret, the key's own for a PEM, RS256/ES256/EdDSA… for JWKS */
  algorithms?: readonly JwtAlgorithm[];
  /**
   * How long before `exp` the client is asked for a fresh token; a token living less than twice this is
   * renewed at half its lifetime. @defaultValue 30000
   */
  expiryNoticeMs?: number;
}

/** What a valid token gave. */
export interface VerifiedToken {
  /** The token's claims: they become `socket.user` on app-nodes. */
  claims: JWTPayload;
  /** Expiry in ms since epoch; undefined for a token without `exp`. */
  expiresAt: number | undefined;
}

/** Checks tokens; rejects with an {@link IoclusterError} coded UNAUTHORIZED or TOKEN_EXPIRED. */
export interface JwtVerifier {
  verify(token: unknown): Promise<VerifiedToken>;
}

const HMAC: readonly JwtAlgorithm[] = JWT_ALGORITHMS.filter((alg) => alg.startsWith('HS'));
const ASYMMETRIC: readonly JwtAlgorithm[] = JWT_ALGORITHMS.filter((alg) => !alg.startsWith('HS'));
/** Longest token accepted: a bound on work done for an anonymous caller. */
const MAX_TOKEN_LENGTH = 8_192;

/** Builds a verifier on `jose`; throws a TypeError naming the option when the key setup is wrong. */
export function createJwtVerifier(options: JwtAuthOptions): JwtVerifier {
  const sources = [options.secret, options.publicKeyPem, options.jwksUrl].filter((v) => v !== undefined);
  if (sources.length !== 1) {
    throw new TypeError('JwtAuthOptions needs exactly one of secret, publicKeyPem and jwksUrl');
  }
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: readonly JwtAlgorithm[];
  if (options.secret !== undefined) {
    key = new TextEncoder().encode(options.secret);
    algorithms = options.algorithms ?? HMAC;
    if (algorithms.some((alg) => !HMAC.includes(alg))) {
      throw new TypeError('JwtAuthOptions.algorithms: a secret verifies only HS256, HS384 and HS512');
    }
  } else if (options.publicKeyPem !== undefined) {
    const pem = options.publicKeyPem;
    algorithms = options.algorithms ?? algorithmsOfPem(pem);
    if (algorithms.some((alg) => HMAC.includes(alg))) {
      throw new TypeError('JwtAuthOptions.algorithms: a public key cannot verify HS* tokens');
    }
    const imported = new Map<string, ReturnType<typeof importSPKI>>();
    key = (header) => {
      let found = imported.get(header.alg);
      if (!found) {
        found = importSPKI(pem, header.alg);
        imported.set(header.alg, found);
      }
      return found;
    };
  } else {
    key = createRemoteJWKSet(new URL(options.jwksUrl!));
    algorithms = options.algorithms ?? ASYMMETRIC;
  }
  const verifyOptions = {
    algorithms: [...algorithms],
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience !== undefined ? { audience: [...options.audience] } : {}),
  };

  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0) {
        throw new IoclusterError('UNAUTHORIZED', 'a token is required (handshake auth.token)');
      }
      if (token.length > MAX_TOKEN_LENGTH) throw new IoclusterError('UNAUTHORIZED', 'token too long');
      try {
        const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, verifyOptions);
        return {
          claims: payload,
          expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
        };
      } catch (cause) {
        if (cause instanceof errors.JWTExpired) {
          throw new IoclusterError('TOKEN_EXPIRED', 'token expired', { cause });
        }
        // The reason (bad signature, wrong issuer...) stays in the server's log, not in the client's answer.
        throw new IoclusterError('UNAUTHORIZED', 'invalid token', { cause });
      }
    },
  };
}

function algorithmsOfPem(pem: string): readonly JwtAlgorithm[] {
  const keyObject = createPublicKey(pem);
  switch (keyObject.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = keyObject.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ES256'];
      if (curve === 'secp384r1') return ['ES384'];
      if (curve === 'secp521r1') return ['ES512'];
      throw new TypeError(`JwtAuthOptions.publicKeyPem: unsupported EC curve ${curve}`);
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new TypeError(`JwtAuthOptions.publicKeyPem: unsupported key type ${keyObject.asymmetricKeyType}`);
  }
}

// TLS over libuv streams with OpenSSL memory BIOs: ciphertext from the socket is fed in,
// plaintext comes out, and plaintext to send is turned into ciphertext for the socket. The
// session holds no socket, so a server connection can move between workers with its TLS state.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace shardpool::pooler {

class TlsContext {
 public:
  // Accepting side (clients connecting to shardpool). With `caFile`, clients are asked for a
  // certificate, and one they present must be signed by it; `requireCert` refuses clients
  // that present none.
  static std::unique_ptr<TlsContext> forAccept(const std::string& certFile,
                                               const std::string& keyFile,
                                               const std::string& caFile, bool requireCert,
                                               std::string& error);
  // Connecting side (shardpool connecting to backends). `verify`: check the chain against
  // `caFile` (or the system store when empty).
  static std::unique_ptr<TlsContext> forConnect(bool verify, const std::string& caFile,
                                                const std::string& certFile,
                                                const std::string& keyFile, std::string& error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class TlsSession {
 public:
  enum class Status { Ok, WantMore, Closed, Error };

  // `host`: for connecting sessions, the server name for SNI and, with `verifyHost`, for the
  // certificate check.
  static std::unique_ptr<TlsSession> accept(const TlsContext& ctx);
  static std::unique_ptr<TlsSession> connect(const TlsContext& ctx, const std::string& host,
                                             bool verifyHost);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  void feed(const uint8_t* data, size_t len);  // ciphertext from the peer
  Status handshake();                          // Ok once established
  bool established() const { return established_; }
  // Decrypts into `out` (up to `cap` bytes); `n` gets the count. WantMore: nothing available.
  Status read(uint8_t* out, size_t cap, size_t& n);
  bool write(const uint8_t* data, size_t len);  // plaintext to send
  bool takeOutput(std::string& out);            // ciphertext to send; false when none
  const std::string& error() const { return error_; }
  // The peer certificate's common name ("" without a certificate).
  std::string peerCommonName() const;
  // "TLSv1.3/TLS_AES_256_GCM_SHA384" once established, for SHOW CLIENTS / SERVERS.
  std::string description() const;
  // Channel binding data of type tls-server-end-point (RFC 5929 section 4.1): the hash of the
  // server's certificate (ours on an accepting session, the peer's on a connecting one) with the
  // hash function of its signature algorithm, SHA-256 where that is MD5 or SHA-1. Empty before
  // the handshake, without a certificate, or when the signature algorithm names no single hash
  // (Ed25519): then SCRAM-SHA-256-PLUS cannot be used.
  std::string tlsServerEndPoint() const;

 private:
  TlsSession(SSL* ssl, BIO* in, BIO* out) : ssl_(ssl), in_(in), out_(out) {}
  Status fail(const char* what);

  SSL* ssl_;
  BIO* in_;   // owned by ssl_
  BIO* out_;  // owned by ssl_
  bool established_ = false;
  std::string error_;
};

}  // namespace shardpool::pooler

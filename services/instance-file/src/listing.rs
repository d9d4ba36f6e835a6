//! Serving DescribeInstances without materialising the listing: the generated
//! `InstanceServer` answers with a `DescribeInstancesResponse` built in full, one
//! `InstanceDescription` (an ID, a tag map and its strings: about 600 bytes in eight small
//! allocations) per instance before a byte is sent. At 100,000 instances that is 60 MB of
//! short-lived small allocations, which the allocator keeps after they are freed: the
//! plugin's resident memory stepped up by about half its index after each listing.
//!
//! [`Server`] wraps the generated server and answers DescribeInstances itself, with a codec
//! whose encoder writes a listing without Properties straight from the index
//! ([`Store::encode_listing`](crate::store::Store::encode_listing)): what a listing costs is
//! its encoded bytes. Everything else, and the listing's semantics (the request's checks,
//! Properties read from the files when asked for), stays with [`FileInstance`].

use crate::service::{FileInstance, Listing};
use infrakit_spi::instance::v1::DescribeInstancesRequest;
use prost::Message;
use std::convert::Infallible;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

/// The path of the method answered here.
const DESCRIBE_INSTANCES: &str = "/infrakit.instance.v1.Instance/DescribeInstances";

/// The Instance service: DescribeInstances answered from [`Listing`]s, every other method by
/// the generated server `inner`.
#[derive(Clone, Debug)]
pub struct Server<S> {
    inner: S,
    plugin: FileInstance,
}

// === impl Server ===

impl<S> Server<S> {
    /// `inner` (the generated server of `plugin`), with DescribeInstances answered here.
    pub fn new(inner: S, plugin: FileInstance) -> Self {
        Self { inner, plugin }
    }
}

impl<S: NamedService> NamedService for Server<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Server<S>
where
    S: Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
            Future = BoxFuture<http::Response<Body>, Infallible>,
        >,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path() != DESCRIBE_INSTANCES {
            return self.inner.call(req);
        }
        let describe = Describe(self.plugin.clone());
        Box::pin(async move { Ok(Grpc::new(ListingCodec).unary(describe, req).await) })
    }
}

/// DescribeInstances, answered with a [`Listing`].
struct Describe(FileInstance);

impl UnaryService<DescribeInstancesRequest> for Describe {
    type Response = Listing;
    type Future = BoxFuture<Response<Listing>, Status>;

    fn call(&mut self, req: Request<DescribeInstancesRequest>) -> Self::Future {
        let plugin = self.0.clone();
        Box::pin(async move { plugin.listing(req.into_inner()).await.map(Response::new) })
    }
}

/// Decodes DescribeInstances requests (as the generated server does) and encodes
/// [`Listing`]s.
#[derive(Clone, Copy, Debug)]
struct ListingCodec;

impl Codec for ListingCodec {
    type Encode = Listing;
    type Decode = DescribeInstancesRequest;
    type Encoder = ListingCodec;
    type Decoder = ListingCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for ListingCodec {
    type Item = Listing;
    type Error = Status;

    fn encode(&mut self, item: Listing, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        let encoded = match item {
            Listing::Index { store, tags } => store.encode_listing(&tags, buf),
            Listing::Built(response) => response.encode(buf),
        };
        // The buffer grows as needed: encoding cannot run out of space.
        encoded.map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for ListingCodec {
    type Item = DescribeInstancesRequest;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        DescribeInstancesRequest::decode(buf)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
